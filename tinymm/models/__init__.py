"""tinymm.models"""
