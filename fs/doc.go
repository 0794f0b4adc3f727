// Package fs is the filesystem core of bimfs: the namespace of accounts,
// folders and files, version pinning per open handle, staged files and
// their uploads, and what survives a crash. It knows nothing of FUSE or
// HTTP. Front ends translate their calls into its methods and its errors
// into theirs, each through one table: fs/fusefs for the kernel (errnos),
// and any other export the same way. This comment is the semantics page:
// it says what each operation promises, and where that differs from a
// local disk.
//
// # Tree and names
//
// The root lists one directory per account; below it each account shows
// its service's tree (BIM 360: hubs, projects, folders, files; BIMcloud:
// resource groups and blobs). A listing is reused for Options.MetadataTTL
// (30 s); a lookup or open after that lists the folder again (one call per
// folder, never one per file). Backends that report changes (BIMcloud's
// change feed) invalidate listings at once. With a state file
// (Options.StatePath) listings outlive restarts: after a restart a folder
// listed before is served at once from its saved listing, however old,
// while a fetch revalidates it in the background; from then on the TTL
// rules above hold. A file opened in that window reads the version the
// saved listing names.
//
// Remote names are shown so that every name is a valid, unique POSIX name
// (names.go): '/', NUL and '%' in a name that needs escaping become %2F,
// %00 and %25; two items with one name are shown as "name (~1a2b3c).ext",
// the suffix derived from each item's ID. A name a user gives (create,
// mkdir, rename target) is refused when it is given, never later at close:
// over 255 bytes is NameTooLong (ENAMETOOLONG); a name with an escape
// sequence that is not the canonical escaping of some name ("rate%25.txt",
// which would be listed as "rate%.txt") is Invalid (EINVAL), so no name
// silently becomes another; names the service refuses are Invalid with
// the service's rule in the message and the log.
//
// Inode numbers derive from the remote ID (or, for a file created here,
// from its staging key, kept for the item after its first upload and, in
// the state store (Options.StatePath), across remounts), never from a
// counter: a file keeps its number through commit, rename and new
// versions. A folder's link count is 2 plus its subfolders when its
// listing is at hand; an open file that was deleted shows 0 links.
//
// # Reading
//
// An open for reading pins the version the folder's listing shows at that
// moment: every read through that handle returns bytes of that version,
// even if a newer version appears meanwhile (the next open sees it).
// Bytes are cached in blocks keyed by the account's identity (service,
// server, app, user) and the immutable version ID, so cached bytes are only
// ever served for the object they came from. A file with a staged copy
// (below) reads the staged bytes.
//
// # Writing
//
// Every open for writing works on one staged copy on local disk per file,
// shared by all handles, so random writes, appends, rsync --inplace and
// SQLite work as on a local disk. A staged copy belongs to the remote item
// it edits (or, for a new file, to its own key until its first upload),
// never to a folder and name: renames move it with the item, and two items
// that share a name never exchange content.
//
// What close(2) and fsync(2) promise:
//
//   - Default (writeback=sync): close returns once the service has the
//     content as a new version, or with the error that prevented it (EIO
//     for an unavailable service, ENOSPC for a full staging disk, EINVAL
//     for a name the service refused, …). fsync likewise.
//   - Options.AsyncWriteback (writeback=async): close and fsync return once
//     the content is durable in the local journal (fsynced snapshot and
//     record); the upload follows in the background.
//   - A close that saw no write commits nothing: `echo hi > new.txt` (the
//     shell closes a duplicate descriptor before writing) makes one
//     version, not two; opening read-write and closing without a write
//     makes none. A new file closed without a write is committed right
//     after its last close, in the background, unless its times were set
//     while it was open (touch, cp -p, cp -a): then its close commits.
//   - A close while another descriptor is still writing commits nothing;
//     the last writer's close does. A close while the same content is
//     already being uploaded waits for that upload instead of sending it
//     again. Each save makes exactly one version.
//   - A commit freezes the content in an immutable snapshot; only snapshots
//     are uploaded. No lock is held across a network call: reads, writes,
//     rename and unlink never wait for an upload. A write during an upload
//     goes to the staged copy and becomes the next version.
//   - A failed upload keeps the content staged and listed under its name
//     (user.bimfs.upload says "failed: …"); it is retried with backoff
//     while the filesystem runs, unless the failure needs the user (an
//     invalid name, a permission): then renaming, moving or deleting the
//     file resolves it.
//
// What a crash (kill -9, power loss) keeps, checked on the next start:
//
//   - Content confirmed by a successful close or fsync in async mode is
//     uploaded under the file's name, with the size of the journaled
//     snapshot (never a size from a stale record).
//   - Content that was never confirmed — the file was still open, its
//     close had not returned (a sync upload in progress), or its close
//     failed — is never published under the file's name and never
//     deleted: it appears beside the original as a local-only file named
//     "<stem> (recovered YYYY-MM-DD HHMMSS)<ext>" (the time of its last
//     change), with user.bimfs.upload "recovered" and listed by `bimfs
//     status`. Renaming it publishes it (uploaded as a new file under the
//     new name, or as a new version of a file it replaces); deleting it
//     discards it.
//   - A file that was only being filled from the service (opened for
//     writing, nothing written yet) leaves nothing behind.
//
// # Changing the tree
//
//   - mkdir creates the folder at once. rmdir removes an empty folder
//     (ENOTEMPTY otherwise; staged files count as children).
//   - unlink deletes the remote file (BIM 360 keeps it recoverable as a
//     deleted version). An upload of the file in flight is cancelled at
//     once; its staged edits are discarded only after the service accepted
//     the delete, so a failed delete loses nothing. A file never uploaded
//     is only discarded locally.
//   - rename of a file never uploaded changes only its staging record (its
//     pending upload follows the new name). Otherwise the service renames
//     or moves the item; staged edits follow the item, and any upload in
//     flight is cancelled and redone under the new name. Renaming over an
//     existing file makes the content a new version of that file (the
//     editor's "write a temporary file, rename it over the original" keeps
//     the original's history); the replaced file's unsent edits are
//     discarded only after the service accepted the rename.
//   - A move the service cannot make — between accounts, BIM 360 projects
//     or services, and folder moves a service has no call for (BIMcloud) —
//     fails with ErrCrossDevice (EXDEV), so mv copies and deletes instead;
//     the log says why.
//   - chmod and chown are accepted and ignored. A modification time set by
//     utimes (touch -d, cp -p, rsync -a) is kept for the version it was
//     set on (with staged content, for the version that content becomes),
//     in the state store across remounts, and shown while that version is
//     the tip: a second rsync -a of an unchanged tree uploads nothing. A
//     new version made elsewhere shows the service's time. A staged file
//     shows the time of its last local change.
//   - fallocate preallocates in the staged copy (the service sees the
//     size only); punching holes is EOPNOTSUPP. A file replaced by a
//     rename while open shows no links, like an unlinked one.
//   - Hard links, symlinks and special files do not exist (EPERM);
//     O_TMPFILE is EOPNOTSUPP; byte-range locks are local to this host.
//
// # Version history and version attributes
//
// Every folder has a directory ".versions" that only a lookup finds (ls
// -a, find, du and rsync never see it): ".versions/<file>/" holds the
// file's versions as read-only files v1<ext>, v2<ext>, … (see
// VersionsDirName). Every file carries read-only extended attributes
// that say which item and version it shows (user.bimfs.id,
// user.bimfs.version, user.bimfs.version_id, and for BIM 360
// user.bimfs.project_id and user.bimfs.hub_id; see xattr.go), answered
// from memory like stat.
//
// # Disk space
//
// Staged data has priority over cached data: the disk block cache keeps
// a tenth of its filesystem (at most 1 GiB) free for staging, and when a
// write still finds the disk full the cache evicts blocks to make room
// before the write fails with ENOSPC. A failed write leaves the bytes
// written before it intact.
//
// # Locks
//
// Lock order: the writeback package's locks, then the leaf locks File.mu,
// account.mu and FS.mu. No lock is held across a call to a backend: a
// second opener waits for a fill in progress on a channel, with its own
// context.
package fs
