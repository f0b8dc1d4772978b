"""The knowledge folder: articles and macros read from Markdown files with front matter."""
