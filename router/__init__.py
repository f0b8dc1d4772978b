"""helpline.router"""
