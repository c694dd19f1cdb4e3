package testenv

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig for cfg (client certificate or token
// auth) to path, readable by the owner only.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["peering-dev"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["peering-dev"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
	}
	kc.Contexts["peering-dev"] = &clientcmdapi.Context{Cluster: "peering-dev", AuthInfo: "peering-dev", Namespace: "default"}
	kc.CurrentContext = "peering-dev"
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("failed to encode kubeconfig: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}
