//go:build tools

// Package tools records the Kubernetes commands this module builds, so that go.mod and
// go.sum pin everything they need. Build one with, for example,
//
//	CGO_ENABLED=0 go build -o kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
