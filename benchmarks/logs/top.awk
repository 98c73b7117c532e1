# The one-pass awk an on-call engineer would write: requests per client and per status.
{ c[$1]++; s[$9]++; n++ }
END {
  for (k in s) print "status", k, s[k]
  for (k in c) print "client", k, c[k] | "sort -k3,3nr | head -10"
}
