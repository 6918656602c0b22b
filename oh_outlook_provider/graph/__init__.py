"""Microsoft Graph and Entra ID vocabulary: paths, schema, clouds, zones, credentials, error answers. No I/O."""
