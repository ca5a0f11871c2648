package replication

// localHost is the host name of the local side's URLs; requests to it
// never leave the process (see transfer.InProcess).
const localHost = "arca.local"
