"""Remote access: the one HTTP stack (``transport``) and the S3 client on it (``s3``).

The only package that opens connections.
"""
