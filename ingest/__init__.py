"""helpline.ingest"""
