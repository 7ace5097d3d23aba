1024 SHA256:aZjvrExz14cjq2te2okKQbkCxxZjoXahGk58K2qlTrY rsa1024@jit-ssh-test (RSA)
