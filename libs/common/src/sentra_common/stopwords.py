"""Spanish and English stopword lists for lexical analysis.

Based on the Snowball stopword lists (snowballstem.org), embedded so that analysis never
needs a download. Adjustments:

* Words are stored accent-folded ("más" -> "mas"), because analysis folds accents before
  looking them up.
* English contraction fragments are added ("don", "isn", "ll", "ve"...), because the
  tokenizer splits "don't" into "don" + "t".
* Spanish "estado/estados/estada/estadas" (participles of *estar* in Snowball's list) are
  left out: in business documents they mostly mean "state/status" and carry content.
* "can", "will", "just" are added to English (frequent in questions, rarely content).
"""

from __future__ import annotations

_ENGLISH = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
she her hers herself it its itself they them their theirs themselves what which who whom
this that these those am is are was were be been being have has had having do does did
doing would should could ought a an the and but if or because as until while of at by for
with about against between into through during before after above below to from up down in
out on off over under again further then once here there when where why how all any both
each few more most other some such no nor not only own same so than too very
don isn aren wasn weren hasn haven hadn doesn didn won wouldn shan shouldn couldn mustn
ll re ve can cannot will just let
"""

_SPANISH = """
de la que el en y a los del se las por un para con no una su al lo como mas pero sus le ya
o este si porque esta entre cuando muy sin sobre tambien me hasta hay donde quien desde
todo nos durante todos uno les ni contra otros ese eso ante ellos e esto mi antes algunos
unos yo otro otras otra tanto esa estos mucho quienes nada muchos cual poco ella estar
estas algunas algo nosotros mis tu te ti tus ellas nosotras vosotros vosotras os mio mia
mios mias tuyo tuya tuyos tuyas suyo suya suyos suyas nuestro nuestra nuestros nuestras
vuestro vuestra vuestros vuestras esos esas estoy estas esta estamos estais estan este
estes estemos esteis esten estare estaras estara estaremos estareis estaran estaria
estarias estariamos estariais estarian estaba estabas estabamos estabais estaban estuve
estuviste estuvo estuvimos estuvisteis estuvieron estuviera estuvieras estuvieramos
estuvierais estuvieran estuviese estuvieses estuviesemos estuvieseis estuviesen estando
estad he has ha hemos habeis han haya hayas hayamos hayais hayan habre habras habra
habremos habreis habran habria habrias habriamos habriais habrian habia habias habiamos
habiais habian hube hubiste hubo hubimos hubisteis hubieron hubiera hubieras hubieramos
hubierais hubieran hubiese hubieses hubiesemos hubieseis hubiesen habiendo habido habida
habidos habidas soy eres es somos sois son sea seas seamos seais sean sere seras sera
seremos sereis seran seria serias seriamos seriais serian era eras eramos erais eran fui
fuiste fue fuimos fuisteis fueron fuera fueras fueramos fuerais fueran fuese fueses
fuesemos fueseis fuesen siendo sido tengo tienes tiene tenemos teneis tienen tenga tengas
tengamos tengais tengan tendre tendras tendra tendremos tendreis tendran tendria tendrias
tendriamos tendriais tendrian tenia tenias teniamos teniais tenian tuve tuviste tuvo
tuvimos tuvisteis tuvieron tuviera tuvieras tuvieramos tuvierais tuvieran tuviese tuvieses
tuviesemos tuvieseis tuviesen teniendo tenido tenida tenidos tenidas tened
"""

ENGLISH_STOPWORDS: frozenset[str] = frozenset(_ENGLISH.split())
SPANISH_STOPWORDS: frozenset[str] = frozenset(_SPANISH.split())
ALL_STOPWORDS: frozenset[str] = ENGLISH_STOPWORDS | SPANISH_STOPWORDS

# Words that are stopwords in only one of the two languages: the evidence for detection.
ENGLISH_ONLY: frozenset[str] = ENGLISH_STOPWORDS - SPANISH_STOPWORDS
SPANISH_ONLY: frozenset[str] = SPANISH_STOPWORDS - ENGLISH_STOPWORDS
