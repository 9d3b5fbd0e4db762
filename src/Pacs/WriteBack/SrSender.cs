using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pacs.Orthanc;

namespace PaliGemma2.DocPipeline.Pacs.WriteBack;

/// <summary>Where one SR goes: the name stored in <c>report_deliveries.destination</c> and, when routed, the Orthanc modality.</summary>
public sealed record SrRoute(string Destination, string? Modality);

/// <summary>Sends an SR document to the configured destination (or, with <see cref="WriteBackOptions.RouteToCallingAe"/>, to the AE that sent the image).</summary>
public sealed class SrSender(IHttpClientFactory httpFactory, IOptions<WriteBackOptions> options)
{
    /// <summary>Named HTTP client.</summary>
    public const string HttpClientName = "pacs-write-back";

    /// <summary>The destination of the SR for the image <paramref name="sourceSopInstanceUid"/>.</summary>
    public async Task<SrRoute> RouteAsync(string? sourceSopInstanceUid, CancellationToken ct)
    {
        var o = options.Value;
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
        if (o.Mode == WriteBackMode.DicomWeb)
        {
            await StowAsync(dicom, o, ct).ConfigureAwait(false);
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

    private async Task StowAsync(byte[] dicom, WriteBackOptions o, CancellationToken ct)
    {
        var url = o.StowUrl ?? throw new InvalidOperationException("Pacs:WriteBack:StowUrl is required for mode DicomWeb.");
        var http = httpFactory.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, url.GetComponents(UriComponents.HttpRequestUrl, UriFormat.UriEscaped));
        if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(o.Username))
        {
            var userInfo = !string.IsNullOrEmpty(o.Username) ? $"{o.Username}:{o.Password}" : Uri.UnescapeDataString(url.UserInfo);
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
