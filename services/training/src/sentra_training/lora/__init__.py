"""LoRA adapters trained on a department's question–answer pairs: the examples
(`data`), the hyper-parameters (`config`), the training loop (`loop`) and the job on Ray
Train (`ray_job`)."""
