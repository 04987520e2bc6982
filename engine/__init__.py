"""The embedded local engine: llama.cpp's ``llama-server`` with a GGUF model, run by us.

``build`` finds or builds the binary once per machine, ``weights`` finds or assembles the
model file (packaged models, a path, or the Hugging Face hub), ``server`` runs one server per
model and hands out LangChain chat models that talk to it (``llamacpp:<model>`` specs).
"""
