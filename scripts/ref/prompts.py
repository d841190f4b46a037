"""The 10 greedy-continuation prompts of compare_llamacpp.py and noise_floor.py."""

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
