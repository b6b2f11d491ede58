"""tinymm.train"""
