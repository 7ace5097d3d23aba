2048 SHA256:T/mxBSCqjUrMiRsypMWb6b/ZSTrTx9dlLKONpnh/jVc rsa2048@jit-ssh-test (RSA)
