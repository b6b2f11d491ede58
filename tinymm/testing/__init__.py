"""tinymm.testing"""
