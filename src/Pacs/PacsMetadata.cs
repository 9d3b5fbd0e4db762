using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PaliGemma2.DocPipeline.Pacs;

/// <summary>Keys a PACS document's <c>metadata</c> gets at intake: where the instance came from.</summary>
public static class PacsMetadata
{
    /// <summary>Orthanc's instance id of a change-feed document (its <c>file_name</c> is the SOP Instance UID).</summary>
    public const string OrthancInstanceId = "orthancInstanceId";

    /// <summary>
    /// Fingerprint of the API key a STOW-RS request carried (<see cref="KeyFingerprint"/>): who pushed the study,
    /// matched against <c>Pacs:WriteBack:DicomWebServers:*:ApiKey</c> to send the report back there.
    /// </summary>
    public const string StowClientKey = "stowClientKey";

    /// <summary>
    /// A stored name for an API key that does not reveal it: the first 16 hex digits of its SHA-256.
    /// </summary>
    public static string KeyFingerprint(string apiKey)
    {
        ArgumentNullException.ThrowIfNull(apiKey);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)))[..16];
    }

    /// <summary>A string value of a document's metadata JSON, or null.</summary>
    public static string? Read(string? metadata, string key)
    {
        if (string.IsNullOrEmpty(metadata))
        {
            return null;
        }

        try
        {
            using var json = JsonDocument.Parse(metadata);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
