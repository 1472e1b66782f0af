$ARGOT --api-key sk-wrong files list
