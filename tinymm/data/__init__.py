"""tinymm.data"""
