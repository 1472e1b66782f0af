$ARGOT --timeout abc files list
