# Cluster deployment (issue 11): the kustomize base and overlays (deploy/kubernetes), checked
# against the agent (tests/deploy/deploy.sh), and the container image (make image, not part of
# make check: it builds a Debian base with mmdebstrap, minutes).
.PHONY: deploy-check image
CHECK_STAGES += deploy-check
deploy-check: $(BUILD)/accelguard
	$(call msg,DEPLOY,kubectl kustomize overlays; mounts, RBAC, capabilities against the agent)
	$(call stage,deploy-check) tests/deploy/deploy.sh $(BUILD)/accelguard

# the container image (tools/image.sh): mmdebstrap bases from Debian's archive, podman import,
# buildah bud of the Containerfile; no registry
image:
	$(call msg,IMAGE,localhost/accelguard:latest)
	$(Q)tools/image.sh

# the image's OCI archive loaded as the README says (ctr images import --all-platforms) into a
# private containerd: both platforms' manifests and blobs present, each platform's agent run with
# ctr run (tests/image/import.sh). Builds the image first when the archive is missing; not in
# CHECK_STAGES, as `make image` is not (minutes: README "Container image").
IMAGE_ARCHIVE ?= $(or $(IMAGE_CACHE),build/image)/accelguard.oci.tar
.PHONY: image-import-check
image-import-check:
	$(Q)[ -s $(IMAGE_ARCHIVE) ] || tools/image.sh
	$(call msg,IMAGE,ctr images import of $(IMAGE_ARCHIVE))
	$(call stage,image-import-check) tests/image/import.sh $(IMAGE_ARCHIVE)
