"""The fault-injection suite (issue 9): storage, server, process and input faults.

Every test injects one fault, bounded in count and time, and checks what was lost (nothing,
unless a final 4xx or the user's own budget says so) and what was sent twice.
"""
