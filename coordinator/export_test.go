package coordinator

// AppendPointsV2 encodes points as a version-2 batch, as nodes before
// batch version 3 wrote them.
var AppendPointsV2 = appendPointsV2
