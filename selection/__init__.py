"""Selection: from a pool of candidate patches to one choice, or an abstention.

pool.py        candidates from run directories and SWE-bench prediction files, by instance
normalize.py   patch keys that ignore comments, docstrings and formatting
matrix.py      candidate x generated test (execution-based verifier)
testpool.py    the generated tests: deduplicated, must fail on the base twice
regression.py  the repository's own tests near the change, run on base and candidates
scores.py      votes, B4 consensus, the Agentless cascade, behaviour clusters
verifier/      the execution-free YES/NO verifier (endpoint and in-process backends)
agent.py       the selection agent, which writes tests to tell the top patches apart
signals.py     every signal for a task, keyed by candidate id
hybrid.py      the R2E-Gym cascade, the weighted combination, baselines, abstention
pipeline.py    one task's selection from whatever evidence exists
metrics.py     accuracy against labels, random and oracle
"""
