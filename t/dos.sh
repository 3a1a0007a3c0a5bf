#!/bin/bash
# dos.sh: being written.
exit 77
