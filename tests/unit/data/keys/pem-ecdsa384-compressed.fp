384 SHA256:CUyz9SyvpSaK8zPah2G/mLDyr0iUpIroBbxqv+LdtMw pem (ECDSA)
