// Package chaos is a Jepsen-style fault campaign against real strata
// processes: 3 meta and 3 or more data nodes, an RF 2 and an RF 3
// database, writers at every consistency level recording each write's
// outcome, readers, meta clients recording a DDL history, and a fault
// schedule drawn from a seed (kill -9, SIGSTOP shorter and longer than
// the write timeout, cut, black-holed and slow links, meta leader kills,
// a full disk, a data node's clock jumping through internal/clock). After
// every round of faults the cluster must converge within a stated bound,
// and checkers that only read what each owner holds decide whether an acknowledged write was lost, whether anything
// appeared that no writer sent, whether the replicas' Merkle roots agree,
// whether the meta history is linearizable (porcupine), and whether a
// process leaked goroutines or file descriptors or logged a panic or race.
//
// TestCampaign runs it: a short campaign in `make test`, a long one via
// scripts/chaos.sh.
package chaos
