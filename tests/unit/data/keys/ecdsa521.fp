521 SHA256:7cMYMH1CxdXlWr5zgUf9wauoHwpfeCBUcO+ha03QhZU ecdsa521@jit-ssh-test (ECDSA)
