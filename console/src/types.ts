// The API's messages as the gateway renders them in JSON: proto field names, enums as their
// names, 64-bit integers as strings, timestamps as RFC 3339, fields at their default left out.

export interface Principal {
  subject: string;
  departments?: string[];
  roles?: string[];
  display_name?: string;
  user_id?: string;
}

export type DocumentState = "DOCUMENT_STATE_PROCESSING" | "DOCUMENT_STATE_INDEXED" | "DOCUMENT_STATE_FAILED";

export interface SentraDocument {
  document_id: string;
  title?: string;
  filename?: string;
  department?: string;
  access_list?: string[];
  content_type?: string;
  size_bytes?: string;
  version?: number;
  state?: DocumentState;
  failure_reason?: string;
  failure_stage?: string;
  chunk_count?: number;
  page_count?: number;
  created_at?: string;
  updated_at?: string;
}

export interface ListDocumentsResponse {
  documents?: SentraDocument[];
  next_page_token?: string;
  state_counts?: Record<string, number>;
}

export interface StageRecord {
  version?: number;
  stage?: string;
  status?: string;
  at?: string;
  duration_ms?: string;
  detail?: string;
  service?: string;
}

export interface GetDocumentResponse {
  document: SentraDocument;
  stages?: StageRecord[];
}

export interface UploadDocumentResponse {
  document: SentraDocument;
  outcome?: string;
}

export interface Chunk {
  chunk_id: string;
  chunk_index: number;
  text: string;
  page: number;
  heading: string;
}

export interface DocumentText {
  document_id: string;
  chunks: Chunk[];
}

export interface Citation {
  number: number;
  document_id: string;
  title: string;
  page: number;
  heading: string;
  chunk_id: string;
  score: number;
  quote: string;
}

export interface AnswerExtensions {
  not_found: boolean;
  adapter: string;
  strategy: string;
  direct_answer: string;
  parts: { question: string; answer: string; citation: number }[];
}

export type AdapterState =
  | "ADAPTER_STATE_REGISTERED"
  | "ADAPTER_STATE_ACTIVE"
  | "ADAPTER_STATE_INACTIVE"
  | "ADAPTER_STATE_FAILED";

export interface Adapter {
  name: string;
  version?: number;
  base_model?: string;
  department?: string;
  metrics?: Record<string, number>;
  state?: AdapterState;
  created_at?: string;
  error?: string;
}

export interface Alias {
  alias: string;
  adapter?: string;
  version?: number;
  active?: boolean;
  department?: string;
  previous_version?: number;
}

export interface ListAdaptersResponse {
  adapters?: Adapter[];
  aliases?: Alias[];
  base_model?: string;
}

export interface AuditEntry {
  id: string;
  at?: string;
  subject?: string;
  method?: string;
  result?: string;
  detail?: string;
  document_ids?: string[];
  request_id?: string;
  departments?: string[];
  roles?: string[];
  department?: string;
  peer?: string;
  duration_ms?: string;
}

export interface QueryAuditLogResponse {
  entries?: AuditEntry[];
  next_page_token?: string;
}

export interface Dataset {
  dataset_id: string;
  department?: string;
  version?: number;
  state?: "DATASET_STATE_GENERATING" | "DATASET_STATE_READY" | "DATASET_STATE_FAILED";
  failure_reason?: string;
  created_by?: string;
  created_at?: string;
  source?: string;
  chunks_done?: number;
  chunks_total?: number;
  pending?: number;
  approved?: number;
  rejected?: number;
  withdrawn?: number;
  train_examples?: number;
  validation_examples?: number;
  test_examples?: number;
}

export type ItemStatus = "ITEM_STATUS_PENDING" | "ITEM_STATUS_APPROVED" | "ITEM_STATUS_REJECTED" | "ITEM_STATUS_WITHDRAWN";

export interface DatasetItem {
  item_id: string;
  dataset_id?: string;
  document_id?: string;
  document_title?: string;
  split?: string;
  question?: string;
  answer?: string;
  context?: string;
  score?: number;
  status?: ItemStatus;
  edited?: boolean;
  reviewed_by?: string;
}

export interface ListDatasetItemsResponse {
  items?: DatasetItem[];
  next_page_token?: string;
  total?: number;
}

export type JobState =
  | "JOB_STATE_QUEUED"
  | "JOB_STATE_RUNNING"
  | "JOB_STATE_EVALUATING"
  | "JOB_STATE_SUCCEEDED"
  | "JOB_STATE_FAILED"
  | "JOB_STATE_CANCELLED";

export interface TrainingJob {
  job_id: string;
  dataset_id?: string;
  adapter_name?: string;
  state?: JobState;
  failure_reason?: string;
  adapter_version?: number;
  promoted?: boolean;
  department?: string;
  created_by?: string;
  step?: number;
  total_steps?: number;
  loss?: number;
  queue_position?: number;
  created_at?: string;
  finished_at?: string;
  decision?: string;
}
