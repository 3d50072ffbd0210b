"""Multimodal generation: text-to-image (diffusers); image understanding and unified models to come."""
