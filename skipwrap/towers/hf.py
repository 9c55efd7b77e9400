"""Hugging Face transformers adapters (CLIPModel, SiglipModel): written next."""
