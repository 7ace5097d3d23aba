256 SHA256:mOh7bswX/hISkTSs6eUJhbk8vT31ZlqXfay9AT85AfA ecdsa256@jit-ssh-test (ECDSA)
