# The strata image: nothing but the static binary (no image can be pulled
# where Strata is built and tested, so there is no builder stage).
# Build it with `make image`, which compiles bin/strata with CGO_ENABLED=0
# and uses bin/ as the build context.
FROM scratch
COPY strata /strata
ENTRYPOINT ["/strata"]
