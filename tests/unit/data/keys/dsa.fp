1024 SHA256:gEiEuNlf7VSRGHSrchj6ZKnoYdZBaMYZeo/lu84240o dsa@jit-ssh-test (DSA)
