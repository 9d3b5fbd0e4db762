using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PaliGemma2.DocPipeline.Pacs.Orthanc;

/// <summary>One entry of Orthanc's <c>/changes</c> feed.</summary>
public sealed record OrthancChange(
    [property: JsonPropertyName("Seq")] long Seq,
    [property: JsonPropertyName("ChangeType")] string ChangeType,
    [property: JsonPropertyName("ID")] string Id,
    [property: JsonPropertyName("ResourceType")] string ResourceType);

/// <summary>A page of Orthanc's <c>/changes</c> feed.</summary>
public sealed record OrthancChanges(
    [property: JsonPropertyName("Changes")] IReadOnlyList<OrthancChange> Changes,
    [property: JsonPropertyName("Done")] bool Done,
    [property: JsonPropertyName("Last")] long Last);

/// <summary>The few Orthanc REST calls the PACS integration needs.</summary>
public sealed class OrthancClient
{
    private readonly HttpClient _http;

    /// <summary>Wraps <paramref name="http"/>, pointing it at <paramref name="root"/> with Basic credentials.</summary>
    public OrthancClient(HttpClient http, Uri root, string? username, string? password)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(root);
        _http = http;
        var user = username;
        var pass = password;
        if (string.IsNullOrEmpty(user) && !string.IsNullOrEmpty(root.UserInfo))
        {
            var parts = root.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            pass = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        }

        var clean = root.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        _http.BaseAddress = new Uri(clean.EndsWith('/') ? clean : clean + "/");
        if (!string.IsNullOrEmpty(user))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{pass}")));
        }
    }

    /// <summary>The REST root without credentials (safe to log and to name a cursor).</summary>
    public Uri Root => _http.BaseAddress!;

    /// <summary>Changes after <paramref name="since"/>.</summary>
    public async Task<OrthancChanges> GetChangesAsync(long since, int limit, CancellationToken ct) =>
        await _http.GetFromJsonAsync<OrthancChanges>($"changes?since={since}&limit={limit}", ct).ConfigureAwait(false)
        ?? throw new InvalidOperationException("Orthanc returned an empty /changes answer.");

    /// <summary>The sequence number of the newest change (the feed's end).</summary>
    public async Task<long> GetLastChangeAsync(CancellationToken ct) =>
        (await _http.GetFromJsonAsync<OrthancChanges>("changes?last", ct).ConfigureAwait(false)
            ?? throw new InvalidOperationException("Orthanc returned an empty /changes answer.")).Last;

    /// <summary>
    /// The name of the Orthanc modality whose AE title sent <paramref name="sopInstanceUid"/> (the instance's
    /// <c>RemoteAET</c> metadata), or null when the instance is not there, came another way, or no modality has that AE title.
    /// </summary>
    public async Task<string?> FindSendingModalityAsync(string sopInstanceUid, CancellationToken ct)
    {
        using var response = await _http.PostAsJsonAsync("tools/find", new Dictionary<string, object>
        {
            ["Level"] = "Instance", ["Query"] = new Dictionary<string, string> { ["SOPInstanceUID"] = sopInstanceUid },
        }, ct).ConfigureAwait(false);
        await EnsureAsync(response, "find", ct).ConfigureAwait(false);
        foreach (var id in await response.Content.ReadFromJsonAsync<List<string>>(ct).ConfigureAwait(false) ?? [])
        {
            using var aet = await _http.GetAsync($"instances/{Uri.EscapeDataString(id)}/metadata/RemoteAET", ct).ConfigureAwait(false);
            if (!aet.IsSuccessStatusCode)
            {
                continue;
            }

            var callingAe = (await aet.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Trim();
            var modalities = await _http.GetFromJsonAsync<Dictionary<string, JsonElement>>("modalities?expand", ct).ConfigureAwait(false) ?? [];
            foreach (var (name, modality) in modalities.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                if (modality.ValueKind == JsonValueKind.Object && modality.TryGetProperty("AET", out var title)
                    && string.Equals(title.GetString(), callingAe, StringComparison.Ordinal))
                {
                    return name;
                }
            }
        }

        return null;
    }

    /// <summary>Deletes an instance (404 counts as done: it is gone either way).</summary>
    public async Task DeleteInstanceAsync(string instanceId, CancellationToken ct)
    {
        using var response = await _http.DeleteAsync($"instances/{Uri.EscapeDataString(instanceId)}", ct).ConfigureAwait(false);
        if (response.StatusCode != System.Net.HttpStatusCode.NotFound)
        {
            await EnsureAsync(response, "delete", ct).ConfigureAwait(false);
        }
    }

    /// <summary>The main DICOM tags of an instance, keyed by name (e.g. Modality, BodyPartExamined, SOPClassUID).</summary>
    public async Task<IReadOnlyDictionary<string, object>> GetSimplifiedTagsAsync(string instanceId, CancellationToken ct) =>
        await _http.GetFromJsonAsync<Dictionary<string, object>>($"instances/{Uri.EscapeDataString(instanceId)}/simplified-tags", ct).ConfigureAwait(false)
        ?? [];

    /// <summary>The instance identifiers of a series.</summary>
    public async Task<IReadOnlyList<string>> GetSeriesInstancesAsync(string seriesId, CancellationToken ct)
    {
        var series = await _http.GetFromJsonAsync<OrthancSeries>($"series/{Uri.EscapeDataString(seriesId)}", ct).ConfigureAwait(false);
        return series?.Instances ?? [];
    }

    /// <summary>Downloads the DICOM file of an instance to <paramref name="destination"/>.</summary>
    public async Task DownloadInstanceAsync(string instanceId, Stream destination, CancellationToken ct)
    {
        using var response = await _http.GetAsync($"instances/{Uri.EscapeDataString(instanceId)}/file", HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        await response.Content.CopyToAsync(destination, ct).ConfigureAwait(false);
    }

    /// <summary>Stores a DICOM file in Orthanc; returns its Orthanc instance identifier.</summary>
    public async Task<string> UploadAsync(byte[] dicom, CancellationToken ct)
    {
        using var content = new ByteArrayContent(dicom);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        using var response = await _http.PostAsync("instances", content, ct).ConfigureAwait(false);
        await EnsureAsync(response, "upload", ct).ConfigureAwait(false);
        var body = await response.Content.ReadFromJsonAsync<OrthancUpload>(ct).ConfigureAwait(false);
        return body?.Id ?? throw new InvalidOperationException("Orthanc accepted the upload but returned no instance ID.");
    }

    /// <summary>C-STORE of stored resources to a configured modality (synchronous: fails when the peer refuses).</summary>
    public async Task StoreToModalityAsync(string modality, IReadOnlyList<string> resources, CancellationToken ct)
    {
        using var response = await _http.PostAsJsonAsync($"modalities/{Uri.EscapeDataString(modality)}/store",
            new Dictionary<string, object> { ["Resources"] = resources, ["Synchronous"] = true }, ct).ConfigureAwait(false);
        await EnsureAsync(response, $"C-STORE to modality '{modality}'", ct).ConfigureAwait(false);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            throw new HttpRequestException(
                $"Orthanc {what} failed: HTTP {(int)response.StatusCode} {(text.Length > 300 ? text[..300] : text)}", null, response.StatusCode);
        }
    }

    private sealed record OrthancUpload([property: JsonPropertyName("ID")] string? Id);

    private sealed record OrthancSeries([property: JsonPropertyName("Instances")] IReadOnlyList<string>? Instances);
}
