"""What compare_llamacpp.py and noise_floor.py share (no llama.cpp dependency): the 10
greedy-continuation prompts and a subprocess runner."""
import shlex
import subprocess
import time

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    "Q: What is the boiling point of water in degrees Celsius?\nA:",
    "The three primary colors are",
    "In machine learning, gradient descent is",
    "1, 2, 3, 4, 5,",
    "Dear Sir or Madam,\n\nI am writing to",
    "The following is a list of planets in our solar system:\n1.",
    "Photosynthesis is the process by which",
]


def run_cmd(cmd):
    """Runs cmd (a list), raising RuntimeError with its stderr tail on failure; returns seconds."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return time.time() - t0
