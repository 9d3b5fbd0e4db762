using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pacs.Orthanc;

namespace PaliGemma2.DocPipeline.Pacs.WriteBack;

/// <summary>
/// Where one SR goes: the name stored in <c>report_deliveries.destination</c> and, when routed, the Orthanc modality
/// or the STOW-RS sender's DICOMweb server.
/// </summary>
public sealed record SrRoute(string Destination, string? Modality, DicomWebServerOptions? Server = null);

/// <summary>
/// Sends an SR document to the configured destination, or back where the image came from: the DICOMweb server whose
/// API key pushed it by STOW-RS (<see cref="WriteBackOptions.DicomWebServers"/>), or with
/// <see cref="WriteBackOptions.RouteToCallingAe"/> the AE that sent it by C-STORE.
/// </summary>
public sealed class SrSender(IHttpClientFactory httpFactory, IOptions<WriteBackOptions> options)
{
    /// <summary>Named HTTP client.</summary>
    public const string HttpClientName = "pacs-write-back";

    /// <summary>The destination of the SR for the image <paramref name="sourceSopInstanceUid"/> with document metadata <paramref name="metadata"/>.</summary>
    public async Task<SrRoute> RouteAsync(string? sourceSopInstanceUid, string? metadata, CancellationToken ct)
    {
        var o = options.Value;
        if (PacsMetadata.Read(metadata, PacsMetadata.StowClientKey) is { } sender)
        {
            foreach (var (name, server) in o.DicomWebServers.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (!string.IsNullOrEmpty(server.ApiKey) && server.StowUrl is not null
                    && string.Equals(PacsMetadata.KeyFingerprint(server.ApiKey), sender, StringComparison.Ordinal))
                {
                    return new SrRoute("dicomweb:" + name, null, server);
                }
            }
        }

        if (o.Mode == WriteBackMode.OrthancModality && o.RouteToCallingAe && !string.IsNullOrEmpty(sourceSopInstanceUid) && o.OrthancUrl is { } url)
        {
            var client = new OrthancClient(httpFactory.CreateClient(HttpClientName), url, o.Username, o.Password);
            if (await client.FindSendingModalityAsync(sourceSopInstanceUid, ct).ConfigureAwait(false) is { } modality)
            {
                return new SrRoute("orthanc-modality:" + modality, modality);
            }
        }

        return new SrRoute(o.DestinationName, null);
    }

    /// <summary>Sends <paramref name="dicom"/> along <paramref name="route"/>; throws when the destination does not accept it.</summary>
    public async Task SendAsync(byte[] dicom, SrRoute route, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(route);
        var o = options.Value;
        if (route.Server is { } server)
        {
            await StowAsync(dicom, server.StowUrl!, server.Username, server.Password, ct).ConfigureAwait(false);
            return;
        }

        if (o.Mode == WriteBackMode.DicomWeb)
        {
            var stowUrl = o.StowUrl ?? throw new InvalidOperationException("Pacs:WriteBack:StowUrl is required for mode DicomWeb.");
            await StowAsync(dicom, stowUrl, o.Username, o.Password, ct).ConfigureAwait(false);
            return;
        }

        var url = o.OrthancUrl ?? throw new InvalidOperationException("Pacs:WriteBack:OrthancUrl is required for mode OrthancModality.");
        var modality = route.Modality ?? (string.IsNullOrWhiteSpace(o.Modality)
            ? throw new InvalidOperationException("Pacs:WriteBack:Modality is required for mode OrthancModality.")
            : o.Modality);
        var client = new OrthancClient(httpFactory.CreateClient(HttpClientName), url, o.Username, o.Password);
        var id = await client.UploadAsync(dicom, ct).ConfigureAwait(false);
        await client.StoreToModalityAsync(modality, [id], ct).ConfigureAwait(false);
        if (o.DeleteFromOrthancAfterSend)
        {
            await client.DeleteInstanceAsync(id, ct).ConfigureAwait(false);
        }
    }

    private async Task StowAsync(byte[] dicom, Uri url, string? username, string? password, CancellationToken ct)
    {
        var http = httpFactory.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, url.GetComponents(UriComponents.HttpRequestUrl, UriFormat.UriEscaped));
        if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(username))
        {
            var userInfo = !string.IsNullOrEmpty(username) ? $"{username}:{password}" : Uri.UnescapeDataString(url.UserInfo);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(userInfo)));
        }

        var content = new MultipartContent("related", "docpipe-" + Guid.NewGuid().ToString("N"));
        content.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("type", "\"application/dicom\""));
        var part = new ByteArrayContent(dicom);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/dicom");
        content.Add(part);
        request.Content = content;
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/dicom+json"));
        using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            throw new HttpRequestException($"STOW-RS failed: HTTP {(int)response.StatusCode} {(text.Length > 300 ? text[..300] : text)}", null, response.StatusCode);
        }

        // Some servers answer 200 with a FailedSOPSequence: that is a failed send too.
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (body.Contains("\"00081198\"", StringComparison.Ordinal))
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("00081198", out var failed)
                && failed.TryGetProperty("Value", out var items) && items.GetArrayLength() > 0)
            {
                throw new HttpRequestException($"STOW-RS refused the SR: {(body.Length > 300 ? body[..300] : body)}");
            }
        }
    }
}
