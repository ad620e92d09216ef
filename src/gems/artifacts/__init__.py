"""The model folder, as data on disk: what it holds and how it is written, checked, read and replaced.

    layout      every file's name (the only names a manifest may list), the format version
    hashing     content fingerprints of files, folders and JSON values; the build's input memo
    integrity   manifest and file checks: names, sizes, headers, hashes; the "damaged" error
    reading     ModelFolder: a checked, read-only view that never unpickles
    writing     ModelWriter: one writer, a temporary folder, a manifest of records, one-step commit
    swap        the one-step exchange of a new folder for the old (and recovery after a kill)
    locks       one writer per folder or output target

The domain view of a built model (tracks, spaces, ranking inputs) is :class:`gems.model.Model`, above this.
"""
