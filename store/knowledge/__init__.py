"""The knowledge base's rows: articles, their versions and images, signed links, and resolved tickets as the suggestion ranker reads them."""
