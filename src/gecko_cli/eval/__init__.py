"""gecko eval: KMMLU and MMLU multiple choice, HumanEval, bits per byte."""
