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
