"""KMMLU / MMLU multiple choice: loading the releases' CSVs, harness-identical prompts, --limit, scoring, tables."""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass

import pytest

from gecko_cli.errors import ConfigError, DataError, GeckoError
from gecko_cli.eval.mcq import CONTINUATIONS, Question, format_table, limit_questions, render, score
from gecko_cli.eval.mcq_data import Row, Subject, column_type, harness_cells, load_subjects
from helpers import SHARED

EVAL = os.path.join(SHARED, "eval")
GOLDEN = os.path.join(EVAL, "golden")
KMMLU_HEADER = ["question", "answer", "A", "B", "C", "D", "Category", "Human Accuracy"]


def write_csv(path, rows: list[list[str]]) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return str(path)


def kmmlu_rows(n: int, tag: str = "q") -> list[list[str]]:
    return [list(KMMLU_HEADER)] + [[f"{tag}{i}?", str(i % 4 + 1), f"a{i}", f"b{i}", f"c{i}", f"d{i}", "X", "0.5"] for i in range(n)]


def kmmlu_dir(root, *names: str, n: int = 6):
    for name in names:
        write_csv(root / f"{name}-dev.csv", kmmlu_rows(5, "dev"))
        write_csv(root / f"{name}-test.csv", kmmlu_rows(n))
    return str(root)


def user_error(exc_type, fn, *args, match: str) -> GeckoError:
    """Call fn, expect exc_type with `match` in a one-line message, and a hint."""
    with pytest.raises(exc_type) as info:
        fn(*args)
    err = info.value
    assert match in err.message, err.message
    assert "\n" not in err.message and err.hint and "\n" not in err.hint
    return err


# --- golden prompts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite, subject, golden", [
    ("kmmlu", "criminal_law", "kmmlu_criminal_law_5shot_samples.jsonl"),
    ("mmlu", "abstract_algebra", "mmlu_abstract_algebra_5shot_samples.jsonl"),
])
def test_render_matches_the_harness(suite, subject, golden):
    questions = render(suite, load_subjects(EVAL, suite, [subject])[0], 5)
    with open(os.path.join(GOLDEN, golden), encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    assert len(records) == 3
    result = score([questions[r["doc_id"]] for r in records], lambda reqs: [[0.0] * 4 for _ in reqs])
    for rec, sample in zip(records, result.samples):
        q = questions[rec["doc_id"]]
        args = [rec["arguments"][f"gen_args_{j}"] for j in range(len(rec["arguments"]))]
        assert [a["arg_0"] for a in args] == [q.context] * 4
        assert tuple(a["arg_1"] for a in args) == q.continuations == (" A", " B", " C", " D")
        assert int(rec["target"]) == q.gold
        assert (sample["prompt_hash"], sample["target_hash"]) == (rec["prompt_hash"], rec["target_hash"])


def test_kmmlu_fewshot_draws_once_per_subject_and_row():
    subject = load_subjects(EVAL, "kmmlu", ["Criminal-Law"])[0]
    questions = render("kmmlu", subject, 3)
    rng = random.Random(1234)
    for q, row in zip(questions[:20], subject.test):
        shots = rng.sample(subject.dev, 3)
        assert q.context.count("정답：") == 4
        for shot in shots:
            assert f"{shot.question.strip()}\n" in q.context and f"정답： {'ABCD'[shot.answer]}\n\n" in q.context
        assert q.context.startswith(shots[0].question.strip())
        a, b, c, d = row.choices
        assert q.context.endswith(f"{row.question.strip()}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\n정답：")
    assert render("kmmlu", subject, 3) == questions  # a fresh generator each time


def test_zero_shot():
    kmmlu = load_subjects(EVAL, "kmmlu", ["criminal-law"])[0]
    q = render("kmmlu", kmmlu, 0)[0]
    a, b, c, d = kmmlu.test[0].choices
    assert q.context == f"{kmmlu.test[0].question.strip()}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\n정답："
    mmlu = load_subjects(EVAL, "mmlu", ["world_religions"])[0]
    q = render("mmlu", mmlu, 0)[0]
    assert q.context == ("The following are multiple choice questions (with answers) about world religions.\n\n"
                         "What can murtis be translated as?\nA. Offerings\nB. Prayers\nC. Apparitions\nD. Idols\nAnswer:")
    assert q.gold == 3 and q.index == 0 and q.continuations == CONTINUATIONS


def test_mmlu_fewshot_is_the_first_dev_rows():
    subject = load_subjects(EVAL, "mmlu", ["high_school_computer_science"])[0]
    questions = render("mmlu", subject, 2)
    prefix = questions[0].context[: questions[0].context.index(subject.test[0].question.strip())]
    assert prefix.startswith("The following are multiple choice questions (with answers) about high school computer science.\n\n")
    assert prefix.count("\nAnswer: ") == 2 and subject.dev[2].question.strip() not in prefix
    assert all(q.context.startswith(prefix) for q in questions)


def test_render_rejects_bad_settings():
    subject = Subject("s", [Row("q", ("a", "b", "c", "d"), 0)] * 2, [Row("q", ("a", "b", "c", "d"), 1)])
    user_error(ConfigError, render, "kmmlu", subject, 3, match="--num-fewshot 3 needs 3 dev questions")
    with pytest.raises(ConfigError, match="0 or more"):
        render("mmlu", subject, -1)
    user_error(ConfigError, render, "arc", subject, 0, match="unknown multiple-choice suite 'arc'")


# --- loading -----------------------------------------------------------------------------------------------------


def test_load_shared_releases():
    kmmlu = load_subjects(EVAL, "kmmlu", None)
    assert [(s.name, len(s.dev), len(s.test)) for s in kmmlu] == [
        ("Biology", 5, 1000), ("Computer-Science", 5, 1000), ("Criminal-Law", 5, 200)]
    assert kmmlu[0].test[0].answer == 3  # "4" in the CSV
    mmlu = load_subjects(os.path.join(EVAL, "mmlu"), "mmlu", ["World-Religions", "ABSTRACT_ALGEBRA"])
    assert [s.name for s in mmlu] == ["world_religions", "abstract_algebra"]
    assert mmlu[1].test[0] == Row("Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.",
                                  ("0", "4", "2", "6"), 1)


def test_kmmlu_columns_are_read_by_name(tmp_path):
    header = ["question", "Category", "B", "A", "Human Accuracy", "D", "C", "answer"]
    rows = [["2+2?", "Math", "4", "3", "0.1", "6", "5", "2"], ["1+1?", "Math", "1", "2", "0.2", "4", "3", "1"]]
    write_csv(tmp_path / "math-dev.csv", [header, *rows])
    write_csv(tmp_path / "math-test.csv", [header, *rows])
    (subject,) = load_subjects(str(tmp_path), "kmmlu", ["Math"])
    assert subject.name == "math"
    assert subject.test == [Row("2+2?", ("3", "4", "5", "6"), 1), Row("1+1?", ("2", "1", "3", "4"), 0)]


def test_kmmlu_choices_print_as_the_harness_reads_them(tmp_path):
    # datasets types each split with pandas, then casts dev and test to the train split's types
    header = ["question", "answer", "A", "B", "C", "D"]
    rows = [["q1", "1", "1", "1.5", "x", "True"], ["q2", "2", "2", "2", "", "false"], ["q3", "3", "007", "1e-7", "y", "TRUE"]]
    write_csv(tmp_path / "Math-dev.csv", [header, *rows])
    write_csv(tmp_path / "Math-test.csv", [header, *rows])
    (subject,) = load_subjects(str(tmp_path), "kmmlu", None)  # no train file: text columns
    assert [r.choices for r in subject.test] == [("1", "1.5", "x", "true"), ("2", "2", "None", "false"),
                                                 ("7", "1e-7", "y", "true")]
    assert render("kmmlu", subject, 0)[1].context == "q2\nA. 2\nB. 2\nC. None\nD. false\n정답："
    write_csv(tmp_path / "Math-train.csv", [header, ["t1", "1", "5", "0.5", "c", "True"], ["t2", "2", "6", "1", "d", "False"]])
    (subject,) = load_subjects(str(tmp_path), "kmmlu", None)  # numbers in train too: the cells keep their types
    assert [r.choices for r in subject.dev] == [("1", "1.5", "x", "True"), ("2", "2.0", "None", "False"),
                                                ("7", "1e-07", "y", "True")]


@pytest.mark.parametrize("cells, shown", [  # checked against pandas 2.3 and pyarrow 26
    (["1", "2", "3", "4"], ["1", "2", "3", "4"]),
    (["1.5", "2", "-3", "1e3"], ["1.5", "2.0", "-3.0", "1000.0"]),
    (["1", "", "3"], ["1.0", "None", "3.0"]),
    (["x", "", "None"], ["x", "None", "None"]),
    (["True", "false", "TRUE"], ["True", "False", "True"]),
    (["True", "NA", "false"], ["True", "None", "False"]),
    (["", "NA"], ["None", "None"]),
    (["007", "+8", " 9 "], ["7", "8", "9"]),
    (["1,000", "2"], ["1,000", "2"]),
    ([".5", "5.", "-0"], ["0.5", "5.0", "-0.0"]),
    (["0.333333333333333333333", "1"], ["0.3333333333333333", "1.0"]),
    (["9223372036854775808", "inf"], ["9.223372036854778e+18", "inf"]),  # pandas' parser, not float()
    (["Inf", "-Infinity", "+inf"], ["inf", "-inf", "inf"]),
    (["1e", "2"], ["1e", "2"]),
    (["18446744073709551615", "1"], ["18446744073709551615", "1"]),
    (["-1", "18446744073709551615"], ["-1", "18446744073709551615"]),
    (["½", "1"], ["½", "1"]),
    (["١٢", "1"], ["١٢", "1"]),
    (["1_0", "1"], ["1_0", "1"]),
    (["2.5e-7", "1E+05", "-.5E-3"], ["2.5e-07", "100000.0", "-0.0005"]),
])
def test_harness_cells(cells, shown):
    assert harness_cells(cells, column_type(cells)[0]) == shown  # as the first split, it keeps its own types


@pytest.mark.parametrize("cells, shown", [  # cast to a text column, checked against pyarrow 26
    (["2", "-3", "007"], ["2", "-3", "7"]),
    (["2.0", "2.50", "1e3", "-0"], ["2", "2.5", "1000", "-0"]),
    (["1e-6", "9.99e-7", "1e10", "9999999999.5", "12345678901"], ["0.000001", "9.99e-7", "1e+10", "9999999999.5",
                                                                  "1.2345678901e+10"]),
    (["1", "", "inf", "-inf"], ["1", "None", "inf", "-inf"]),
    (["True", "FALSE", "NA"], ["true", "false", "None"]),
    (["x", "NULL", "1"], ["x", "None", "1"]),
])
def test_harness_cells_cast_to_text(cells, shown):
    assert harness_cells(cells, "text") == shown
    assert harness_cells(cells) == shown


def test_column_type():
    assert column_type(["1", "2"]) == ("int", [1, 2])
    assert column_type(["1", ""]) == ("float", [1.0, None])
    assert column_type(["", "NA"]) == ("float", [None, None])
    assert column_type(["true", "N/A"]) == ("bool", [True, None])
    assert column_type(["1", "x", "nan"]) == ("text", ["1", "x", None])
    assert harness_cells(["1", "2"], "float") == ["1.0", "2.0"]


def test_mmlu_headerless_original_layout(tmp_path):
    write_csv(tmp_path / "data" / "dev" / "Anatomy_dev.csv", [["What?", "1.0", "b", "c", "d", "A"]] * 5)
    write_csv(tmp_path / "data" / "test" / "anatomy_test.csv",
              [[" Which?", "w", "x", "y", "z", "D"], ["question", "w", "x", "y", "z", "C"]])
    (subject,) = load_subjects(str(tmp_path), "mmlu", ["Anatomy"])
    assert subject.name == "anatomy"
    assert subject.dev[0] == Row("What?", ("1.0", "b", "c", "d"), 0)  # MMLU choices stay text
    assert subject.test == [Row(" Which?", ("w", "x", "y", "z"), 3), Row("question", ("w", "x", "y", "z"), 2)]
    assert render("mmlu", subject, 1)[0].context == (
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
        "What?\nA. 1.0\nB. b\nC. c\nD. d\nAnswer: A\n\nWhich?\nA. w\nB. x\nC. y\nD. z\nAnswer:")


def test_mmlu_header_with_letters(tmp_path):
    header = ["Question", "A", "B", "C", "D", "Answer"]
    write_csv(tmp_path / "dev" / "law_dev.csv", [header, ["q", "a", "b", "c", "d", "B"]])
    write_csv(tmp_path / "test" / "law_test.csv", [header, ["q", "a", "b", "c", "d", "3"]])
    (subject,) = load_subjects(str(tmp_path), "mmlu", None)
    assert (subject.dev[0].answer, subject.test[0].answer) == (1, 3)


def test_subjects_match_in_any_case(tmp_path):
    kmmlu_dir(tmp_path / "kmmlu", "korean-history", "Criminal-Law")
    write_csv(tmp_path / "kmmlu" / "Math-dev.csv", kmmlu_rows(5))
    write_csv(tmp_path / "kmmlu" / "math-TEST.csv", kmmlu_rows(3))
    write_csv(tmp_path / "kmmlu" / "Math-train.csv", kmmlu_rows(3))
    found = load_subjects(str(tmp_path), "kmmlu", [])  # the parent of kmmlu/ works too
    assert [(s.name, len(s.test)) for s in found] == [("Criminal-Law", 6), ("korean-history", 6), ("Math", 3)]
    asked = load_subjects(str(tmp_path), "kmmlu", ["Korean_History", "CRIMINAL LAW", "korean-history", "math"])
    assert [s.name for s in asked] == ["korean-history", "Criminal-Law", "Math"]


# --- bad input ---------------------------------------------------------------------------------------------------


def test_missing_folder_and_unknown_layout(tmp_path):
    user_error(DataError, load_subjects, str(tmp_path / "nope"), "kmmlu", None, match="does not exist")
    write_csv(tmp_path / "notes.csv", [["a"]])
    user_error(DataError, load_subjects, str(tmp_path / "notes.csv"), "mmlu", None, match="is not a folder")
    err = user_error(DataError, load_subjects, str(tmp_path), "mmlu", None, match=f"no MMLU files in {tmp_path}")
    assert "dev/{subject}_dev.csv" in err.message
    kmmlu_dir(tmp_path, "Law")
    user_error(DataError, load_subjects, str(tmp_path), "mmlu", None, match="no MMLU files")  # KMMLU files only
    user_error(ConfigError, load_subjects, str(tmp_path), "cmmlu", None, match="unknown multiple-choice suite")


def test_unknown_subject_lists_the_available_ones(tmp_path):
    kmmlu_dir(tmp_path, "Law", "Taxation")
    err = user_error(ConfigError, load_subjects, str(tmp_path), "kmmlu", ["law", "Tax"], match="subject 'Tax' not found")
    assert err.hint == "available: Law, Taxation"


def test_missing_column(tmp_path):
    kmmlu_dir(tmp_path, "Law")
    rows = kmmlu_rows(3)
    rows[0][rows[0].index("C")] = "Choice C"
    path = write_csv(tmp_path / "Law-test.csv", rows)
    err = user_error(DataError, load_subjects, str(tmp_path), "kmmlu", None, match=f"{path} has no column 'C'")
    assert "Choice C" in err.message
    header = ["question", "choice0", "choice1", "choice2", "answer"]
    write_csv(tmp_path / "dev" / "law_dev.csv", [header, ["q", "a", "b", "c", "0"]])
    write_csv(tmp_path / "test" / "law_test.csv", [header])
    user_error(DataError, load_subjects, str(tmp_path), "mmlu", None, match="law_dev.csv has no column 'choice3' or 'D'")


@pytest.mark.parametrize("bad", ["5", "0", "B", "", "2.0"])
def test_bad_kmmlu_answer(tmp_path, bad):
    kmmlu_dir(tmp_path, "Law")
    rows = kmmlu_rows(4)
    rows[3][1] = bad
    path = write_csv(tmp_path / "Law-test.csv", rows)
    user_error(DataError, load_subjects, str(tmp_path), "kmmlu", None, match=f"{path} row 3 (line 4): answer {bad!r}")


def test_bad_mmlu_answer_and_row_width(tmp_path):
    write_csv(tmp_path / "dev" / "law_dev.csv", [["q", "a", "b", "c", "d", "A"]])
    path = write_csv(tmp_path / "test" / "law_test.csv", [["q", "a", "b", "c", "d", "A"], ["q", "a", "b", "c", "d", "1"]])
    user_error(DataError, load_subjects, str(tmp_path), "mmlu", None, match=f"{path} row 2 (line 2): answer '1'")
    write_csv(tmp_path / "test" / "law_test.csv", [["q", "a", "b", "c", "d", "A"], ["q", "a, b", "c", "d", "A"]])
    user_error(DataError, load_subjects, str(tmp_path), "mmlu", None, match="row 2 (line 2) has 5 fields, expected 6")


def test_incomplete_or_unreadable_files(tmp_path):
    kmmlu_dir(tmp_path, "Law")
    write_csv(tmp_path / "Tax-test.csv", kmmlu_rows(2))
    user_error(DataError, load_subjects, str(tmp_path), "kmmlu", ["tax"], match="'Tax' in")
    os.remove(tmp_path / "Tax-test.csv")
    write_csv(tmp_path / "Law-test.csv", kmmlu_rows(0))
    user_error(DataError, load_subjects, str(tmp_path), "kmmlu", None, match="Law-test.csv has no questions")
    (tmp_path / "Law-test.csv").write_bytes(b"question,answer,A,B,C,D\n\xff\xfe,1,a,b,c,d\n")
    user_error(DataError, load_subjects, str(tmp_path), "kmmlu", None, match="is not UTF-8")
    write_csv(tmp_path / "law-TEST.csv", kmmlu_rows(2))
    user_error(DataError, load_subjects, str(tmp_path), "kmmlu", None, match="are the same subject's test file")


# --- --limit -----------------------------------------------------------------------------------------------------


def make_questions(golds: list[int], subject: str = "s", suite: str = "kmmlu") -> list[Question]:
    return [Question(suite, subject, i, f"{subject} {i}", CONTINUATIONS, g) for i, g in enumerate(golds)]


def test_limit_is_stratified_by_answer():
    qs = make_questions([0] * 40 + [1] * 30 + [2] * 20 + [3] * 10)
    random.Random(0).shuffle(qs)
    kept = limit_questions(qs, 10, seed=7)
    assert [sum(q.gold == g for q in kept) for g in range(4)] == [4, 3, 2, 1]
    assert [qs.index(q) for q in kept] == sorted(qs.index(q) for q in kept)  # original order
    # 5 of (7 A, 2 B, 1 C): exact shares 3.5, 1, 0.5; the spare one goes to the earlier letter
    kept = limit_questions(make_questions([0] * 7 + [1] * 2 + [2]), 5, seed=1)
    assert [sum(q.gold == g for q in kept) for g in range(4)] == [4, 1, 0, 0]


def test_limit_is_deterministic_and_per_subject():
    qs = make_questions([i % 4 for i in range(50)], "a") + make_questions([i % 3 for i in range(30)], "b", "mmlu")
    first = limit_questions(qs, 8, seed=3)
    assert first == limit_questions(list(qs), 8, seed=3)
    assert limit_questions(qs, 8, seed=4) != first
    assert [(q.subject, sum(r.subject == q.subject for r in first)) for q in first[::8]] == [("a", 8), ("b", 8)]
    assert limit_questions(qs[50:], 8, seed=3) == first[8:]  # a subject's sample ignores the others
    kept = limit_questions(qs, 30, seed=3)
    assert len(kept) == 60 and kept[30:] == qs[50:]  # b has 30: all kept
    assert limit_questions(qs, None, seed=3) == qs
    with pytest.raises(ConfigError, match="at least 1"):
        limit_questions(qs, 0, seed=3)


# --- scoring -----------------------------------------------------------------------------------------------------


def prefer(letter: str):
    return lambda reqs: [[0.0 if c == f" {letter}" else -1.0 for c in conts] for _, conts in reqs]


@dataclass
class Scored:
    loglik: list[list[float]]
    truncated: int


def test_score_always_b():
    qs = make_questions([0, 1, 1, 2, 3, 1, 0, 2], "x") + make_questions([1, 3], "y")
    result = score(qs, prefer("B"), batch_size=3)
    assert [(s.subject, s.n, s.correct, s.acc) for s in result.subjects] == [("x", 8, 3, 3 / 8), ("y", 2, 1, 0.5)]
    assert (result.n, result.correct, result.micro, result.macro) == (10, 4, 0.4, (3 / 8 + 0.5) / 2)
    assert result.predicted == (0, 10, 0, 0) and result.gold == (2, 4, 2, 2)
    assert result.baselines == {"always A": 0.2, "always B": 0.4, "always C": 0.2, "always D": 0.2}
    assert result.subjects[0].baselines == {"always A": 0.25, "always B": 0.375, "always C": 0.25, "always D": 0.125}
    assert result.truncated == 0
    sample = result.samples[3]
    assert sample == {
        "suite": "kmmlu", "subject": "x", "doc_id": 3, "target": 2,
        "arguments": {f"gen_args_{j}": {"arg_0": "x 3", "arg_1": c} for j, c in enumerate(CONTINUATIONS)},
        "loglikelihoods": [-1.0, 0.0, -1.0, -1.0], "pred": 1, "acc": 0.0,
        "prompt_hash": sample["prompt_hash"], "target_hash": sample["target_hash"],
    }
    assert [s["acc"] for s in result.samples] == [float(q.gold == 1) for q in qs]


def test_score_gold_ties_and_truncation():
    qs = make_questions([3, 0, 2, 1, 3])
    calls = []

    def oracle(reqs):
        calls.append(len(reqs))
        golds = [int(ctx.split()[1]) for ctx, _ in reqs]
        return Scored([[1.0 if j == qs[g].gold else -2.5 for j in range(4)] for g in golds], truncated=1)

    result = score(qs, oracle, batch_size=2)
    assert calls == [2, 2, 1] and result.truncated == 3
    assert (result.micro, result.macro, result.predicted) == (1.0, 1.0, (1, 1, 1, 2))
    tied = score(qs, lambda reqs: [[-1.0, -1.0, -3.0, -1.0] for _ in reqs])
    assert tied.predicted == (5, 0, 0, 0) and tied.correct == 1  # ties go to the first, as numpy's argmax


def test_score_rejects_misshapen_answers():
    qs = make_questions([0, 1])
    with pytest.raises(ValueError, match="1 answers for 2 requests"):
        score(qs, lambda reqs: [[0.0] * 4])
    with pytest.raises(ValueError, match="3 log-likelihoods for 4 continuations"):
        score(qs, lambda reqs: [[0.0] * 3 for _ in reqs])
    with pytest.raises(ValueError, match="at least one question"):
        score([], prefer("A"))


def test_format_table():
    qs = make_questions([0, 1, 1, 2], "Law") + make_questions([1, 3], "Tax") + make_questions([0, 0], "law", "mmlu")
    result = score(qs, lambda reqs: Scored(prefer("B")(reqs), truncated=2))
    table = format_table(result)
    lines = table.splitlines()
    assert lines[0] == ("| suite | subject | n | acc | always A | always B | always C | always D "
                        "| pred A | pred B | pred C | pred D |")
    assert "| kmmlu | Law | 4 | 0.5000 | 0.2500 | 0.5000 | 0.2500 | 0.0000 | 0 | 4 | 0 | 0 |" in lines
    assert "| kmmlu | **micro** | 6 | 0.5000 | 0.1667 | 0.5000 | 0.1667 | 0.1667 | 0 | 6 | 0 | 0 |" in lines
    assert "| kmmlu | **macro** (2 subjects) | 6 | 0.5000 | 0.1250 | 0.5000 | 0.1250 | 0.2500 |  |  |  |  |" in lines
    assert "| mmlu | **micro** | 2 | 0.0000 | 1.0000 | 0.0000 | 0.0000 | 0.0000 | 0 | 2 | 0 | 0 |" in lines
    assert "| all | **micro** | 8 | 0.3750 | 0.3750 | 0.3750 | 0.1250 | 0.1250 | 0 | 8 | 0 | 0 |" in lines
    assert lines[-1] == "2 of 8 contexts were cut from the left to fit the model's window."
    assert all(line.count("|") == 13 for line in lines if line.startswith("|"))
    single = format_table(result.for_suite("mmlu"))
    assert "| all |" not in single and "cut from the left" not in single
    data = result.to_dict()
    assert (data["n"], data["acc_micro"], data["truncated"], data["predicted"]) == (8, 0.375, 2, {"A": 0, "B": 8, "C": 0, "D": 0})
    assert [(s["suite"], s["subject"], s["acc"]) for s in data["subjects"]] == [("kmmlu", "Law", 0.5), ("kmmlu", "Tax", 0.5),
                                                                                 ("mmlu", "law", 0.0)]
    json.dumps(data)
