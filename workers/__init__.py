"""helpline.workers"""
