"""The assistant: a language model plans and explains; every fact comes from the engines.

- ``llm``: client of any OpenAI-compatible chat endpoint (settings ``INFRASIGHT_LLM_*``).
- ``tools``: read-only tools run as the asking user through the API's own route functions.
- ``agent``: the bounded tool-calling loop; ``grounding``: the answer check and citations.
- ``language``: en / zh-Hant / zh-Hans and the fixed texts (``messages.toml``).
- ``service``: checks a question, runs it, stores the conversation and the tool-call audit.
- ``embedding``: the shipped embedding model (``assistant`` extra); ``retrieval``: passage search
  (BM25, fused with embeddings); ``routing``: the tools offered a small model, by similarity.
- ``replay``: an OpenAI-compatible endpoint that replays recorded answers (tests, benchmark).
"""
