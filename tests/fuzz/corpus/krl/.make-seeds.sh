#!/bin/sh
# Regenerate the KRL seed corpus.  keygen-*.krl are written by
# ssh-keygen -k (lists, ranges, a bitmap, key IDs, explicit keys, SHA-1
# and SHA-256 sections, an "any CA" section) and ours-*.krl by
# jit_krl_build, all via the unit test, which saves the KRLs it makes when
# JIT_KRL_SEED_DIR is set.  Run from this directory with a built tree:
#   ./.make-seeds.sh ../../../../build-sig
set -eu
JIT_KRL_SEED_DIR=$(pwd) "${1:?build dir}/tests/test-krl"
