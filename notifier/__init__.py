"""helpline.notifier"""
