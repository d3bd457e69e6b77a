"""Published LongBench per-task length statistics, built in so offline LongBench needs no data files.

v1: THUDM/LongBench @ 2e00731f8d0bff23dc4325161044d0ed8af94c1e, LongBench/task.md (average length in
words for EN/code and characters for ZH, #samples) and LongBench/config/dataset2maxlen.json
(max_new_tokens). v2: same repo, misc/table.png (#samples, average length in thousands of words).
MIT license. A file of the same layout found in the data directory takes precedence.
"""

from __future__ import annotations

V1_COLUMNS = (
    "task",
    "dataset_key",
    "task_type",
    "language",
    "avg_len",
    "avg_len_unit",
    "num_samples",
    "max_new_tokens",
)
V1_ROWS: tuple[tuple[str, str, str, str, int, str, int, int], ...] = (
    ("HotpotQA", "hotpotqa", "Multi-doc QA", "EN", 9151, "words", 200, 32),
    ("2WikiMultihopQA", "2wikimqa", "Multi-doc QA", "EN", 4887, "words", 200, 32),
    ("MuSiQue", "musique", "Multi-doc QA", "EN", 11214, "words", 200, 32),
    ("DuReader", "dureader", "Multi-doc QA", "ZH", 15768, "chars", 200, 128),
    ("MultiFieldQA-en", "multifieldqa_en", "Single-doc QA", "EN", 4559, "words", 150, 64),
    ("MultiFieldQA-zh", "multifieldqa_zh", "Single-doc QA", "ZH", 6701, "chars", 200, 64),
    ("NarrativeQA", "narrativeqa", "Single-doc QA", "EN", 18409, "words", 200, 128),
    ("Qasper", "qasper", "Single-doc QA", "EN", 3619, "words", 200, 128),
    ("GovReport", "gov_report", "Summarization", "EN", 8734, "words", 200, 512),
    ("QMSum", "qmsum", "Summarization", "EN", 10614, "words", 200, 512),
    ("MultiNews", "multi_news", "Summarization", "EN", 2113, "words", 200, 512),
    ("VCSUM", "vcsum", "Summarization", "ZH", 15380, "chars", 200, 512),
    ("TriviaQA", "triviaqa", "Few shot", "EN", 8209, "words", 200, 32),
    ("SAMSum", "samsum", "Few shot", "EN", 6258, "words", 200, 128),
    ("TREC", "trec", "Few shot", "EN", 5177, "words", 200, 64),
    ("LSHT", "lsht", "Few shot", "ZH", 22337, "chars", 200, 64),
    ("PassageRetrieval-en", "passage_retrieval_en", "Synthetic", "EN", 9289, "words", 200, 32),
    ("PassageCount", "passage_count", "Synthetic", "EN", 11141, "words", 200, 32),
    ("PassageRetrieval-zh", "passage_retrieval_zh", "Synthetic", "ZH", 6745, "chars", 200, 32),
    ("LCC", "lcc", "Code", "Python/C#/Java", 1235, "words", 500, 64),
    ("RepoBench-P", "repobench-p", "Code", "Python/Java", 4206, "words", 500, 64),
)

V2_COLUMNS = ("category", "subtask", "source", "num_samples", "avg_len_kwords")
V2_ROWS: tuple[tuple[str, str, str, int, int], ...] = (
    ("Single-Document QA", "ALL", "", 175, 51),
    ("Single-Document QA", "Academic", "Paper, textbook", 44, 14),
    ("Single-Document QA", "Literary", "Novel", 30, 72),
    ("Single-Document QA", "Legal", "Legal doc", 19, 15),
    ("Single-Document QA", "Financial", "Financial report", 22, 49),
    ("Single-Document QA", "Governmental", "Government report", 18, 20),
    ("Single-Document QA", "Detective", "Detective novel", 22, 70),
    ("Single-Document QA", "Event ordering", "Novel", 20, 96),
    ("Multi-Document QA", "ALL", "", 125, 34),
    ("Multi-Document QA", "Academic", "Papers, textbooks", 50, 27),
    ("Multi-Document QA", "Legal", "Legal docs", 14, 28),
    ("Multi-Document QA", "Financial", "Financial reports", 15, 129),
    ("Multi-Document QA", "Governmental", "Government reports", 23, 89),
    ("Multi-Document QA", "Multi-news", "News", 23, 15),
    ("Long In-context Learning", "ALL", "", 81, 71),
    ("Long In-context Learning", "User guide QA", "Electronic device, software, instrument", 40, 61),
    ("Long In-context Learning", "New language translation", "Vocabulary book (Kalamang, Zhuang)", 20, 132),
    ("Long In-context Learning", "Many-shot learning", "Multi-class classification task", 21, 71),
    ("Long-dialogue History Understanding", "ALL", "", 39, 25),
    ("Long-dialogue History Understanding", "Agent history QA", "LLM agents conversation", 20, 13),
    ("Long-dialogue History Understanding", "Dialogue history QA", "User-LLM conversation", 19, 77),
    ("Code Repository Understanding", "ALL", "", 50, 167),
    ("Code Repository Understanding", "Code repo QA", "Code repository", 50, 167),
    ("Long Structured Data Understanding", "ALL", "", 33, 49),
    ("Long Structured Data Understanding", "Table QA", "Table", 18, 42),
    ("Long Structured Data Understanding", "Knowledge graph reasoning", "KG subgraph", 15, 52),
)
