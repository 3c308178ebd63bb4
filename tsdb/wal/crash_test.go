package wal_test

func crashChild() bool { return false }
