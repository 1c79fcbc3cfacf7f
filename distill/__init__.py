"""Training of DeepFEVER teachers and self-distilled students (paper 003, Algorithm 1, II-B, III-B)."""
