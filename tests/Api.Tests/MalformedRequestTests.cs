using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Api.Tests;

/// <summary>The Api (real PostgreSQL and RabbitMQ) with a 64 KiB Intake:MaxFileBytes, started once for these tests.</summary>
public sealed class SmallLimitApi : IAsyncLifetime
{
    public const long Limit = 64 * 1024;

    private string _root = null!;

    public WebApplicationFactory<Program> Factory { get; private set; } = null!;

    public async Task InitializeAsync() =>
        (Factory, _root) = await ApiFactory.CreateAsync("apibad", new Dictionary<string, string>
        {
            ["Intake:MaxFileBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Roles"] = "api,intake,prepare",
        });

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>Every malformed or oversize request is a 4xx problem (or, for STOW-RS, a Store response), never a 500.</summary>
public sealed class MalformedRequestTests(SmallLimitApi api) : IClassFixture<SmallLimitApi>
{
    private const int CannotUnderstand = 0xC000;
    private const int OutOfResources = 0xA700;

    private static byte[] Multipart(string boundary, byte[] file, string name = "file") => [
        .. Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"),
        .. file,
        .. Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n")];

    private static ByteArrayContent Raw(byte[] body, string contentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    private static byte[] Noise(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Upload_with_a_non_form_content_type_is_415()
    {
        using var client = api.Factory.Client();
        using var response = await client.PostAsync("/v1/documents?task=table", Raw(Noise(100), "application/pdf"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("Expected multipart/form-data", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Upload_without_a_multipart_boundary_is_400()
    {
        using var client = api.Factory.Client();
        using var response = await client.PostAsync("/v1/documents?task=table", Raw(Multipart("b1", Noise(100)), "multipart/form-data"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("boundary", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Upload_whose_boundary_never_occurs_in_the_body_is_400()
    {
        using var client = api.Factory.Client();
        using var response = await client.PostAsync("/v1/documents?task=table", Raw(Multipart("in-body", Noise(100)), "multipart/form-data; boundary=in-header"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Truncated_upload_body_is_400()
    {
        using var client = api.Factory.Client();
        var body = Multipart("cut", Noise(4000));
        using var response = await client.PostAsync("/v1/documents?task=table", Raw(body[..2000], "multipart/form-data; boundary=cut"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("Truncated multipart body", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Chunked_upload_over_the_limit_is_413()
    {
        using var client = api.Factory.Client();
        using var content = new UnsizedContent(Multipart("big", Noise((int)SmallLimitApi.Limit * 20)), "multipart/form-data; boundary=big");
        // No Content-Length to check up front: the Api has to count the body as it arrives.
        Assert.Null(content.Headers.ContentLength);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/documents?task=table") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await client.SendAsync(request);
        var problem = await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains(SmallLimitApi.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_of_a_file_just_over_the_limit_is_413_and_one_at_the_limit_is_accepted()
    {
        using var client = api.Factory.Client();
        using var over = await client.PostAsync("/v1/documents?task=table", Raw(Multipart("b", Noise((int)SmallLimitApi.Limit + 1)), "multipart/form-data; boundary=b"));
        await AssertProblemAsync(over, HttpStatusCode.RequestEntityTooLarge);

        using var at = await client.PostAsync("/v1/documents?task=table", Raw(Multipart("b", Noise((int)SmallLimitApi.Limit)), "multipart/form-data; boundary=b"));
        Assert.Equal(HttpStatusCode.Accepted, at.StatusCode);
    }

    [Fact]
    public async Task Stow_with_another_content_type_or_part_type_is_415()
    {
        using var client = api.Factory.Client();
        using var form = await client.PostAsync("/dicom-web/studies", Raw(Multipart("s", Noise(10)), "multipart/form-data; boundary=s"));
        await AssertProblemAsync(form, HttpStatusCode.UnsupportedMediaType);
        using var json = await client.PostAsync("/dicom-web/studies", Raw(Multipart("s", Noise(10)), "multipart/related; type=\"application/dicom+json\"; boundary=s"));
        await AssertProblemAsync(json, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Stow_without_a_boundary_is_400_with_failure_reason_C000()
    {
        using var client = api.Factory.Client();
        using var response = await client.PostAsync("/dicom-web/studies", Raw(Multipart("s", Noise(10)), "multipart/related; type=\"application/dicom\""));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(CannotUnderstand, problem.GetProperty("failureReason").GetInt32());
    }

    [Fact]
    public async Task Truncated_stow_body_is_400_with_failure_reason_C000()
    {
        using var client = api.Factory.Client();
        var dicom = await File.ReadAllBytesAsync(Corpus.File("dicom", "MR_small.dcm"));
        var body = Multipart("s", dicom);
        using var response = await client.PostAsync("/dicom-web/studies", Raw(body[..(body.Length / 2)], "multipart/related; type=\"application/dicom\"; boundary=s"));
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(CannotUnderstand, problem.GetProperty("failureReason").GetInt32());
    }

    [Fact]
    public async Task Stow_part_over_the_limit_is_refused_with_A700()
    {
        using var client = api.Factory.Client();
        using var response = await client.PostAsync("/dicom-web/studies", Raw(Multipart("s", Noise((int)SmallLimitApi.Limit + 1)), "multipart/related; type=\"application/dicom\"; boundary=s"));
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/dicom+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var failed = Assert.Single(body.GetProperty("00081198").GetProperty("Value").EnumerateArray());
        Assert.Equal(OutOfResources, failed.GetProperty("00081197").GetProperty("Value")[0].GetInt32());
        Assert.False(body.TryGetProperty("00081199", out _));
    }

    [Fact]
    public async Task Stow_body_that_breaks_after_a_stored_instance_is_202_with_the_rest_failed_C000()
    {
        using var client = api.Factory.Client();
        var dicom = await File.ReadAllBytesAsync(Corpus.File("dicom", "MR_small.dcm"));
        var first = Multipart("s", dicom);
        // The closing delimiter becomes a part delimiter, and the second part ends without one.
        byte[] body = [.. first[..^4], .. Encoding.ASCII.GetBytes("\r\nContent-Type: application/dicom\r\n\r\n"), .. dicom[..100]];
        using var response = await client.PostAsync("/dicom-web/studies", Raw(body, "multipart/related; type=\"application/dicom\"; boundary=s"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var store = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Single(store.GetProperty("00081199").GetProperty("Value").EnumerateArray());
        var failed = Assert.Single(store.GetProperty("00081198").GetProperty("Value").EnumerateArray());
        Assert.Equal(CannotUnderstand, failed.GetProperty("00081197").GetProperty("Value")[0].GetInt32());
    }

    [Fact]
    public async Task A_file_over_the_limit_from_another_intake_is_failed_too_large_by_preparation_and_its_blob_deleted()
    {
        // The drop folder, queue and PACS intakes store first; preparation applies the same Intake:MaxFileBytes the Api does.
        IntakeResult stored;
        string path;
        using (var scope = api.Factory.Services.CreateScope())
        {
            var intake = scope.ServiceProvider.GetRequiredService<DocumentIntake>();
            var bytes = Noise((int)SmallLimitApi.Limit + 1);
            // Blob keys are the SHA-256 of the bytes.
            path = scope.ServiceProvider.GetRequiredService<IBlobStore>().GetPath(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
            using var big = new MemoryStream(bytes);
            stored = await intake.IngestAsync(big, "big.pdf", "table", Sources.Folder, CancellationToken.None);
        }

        using var client = api.Factory.Client();
        JsonElement doc = default;
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            doc = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{stored.DocumentId}");
            return doc.GetProperty("status").GetString() == "failed";
        }, TimeSpan.FromSeconds(60)));
        Assert.Contains(SmallLimitApi.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture), doc.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(path), "the refused file's blob is still stored");
    }

    /// <summary>Content that does not know its length, so HttpClient sends it chunked.</summary>
    private sealed class UnsizedContent : HttpContent
    {
        private readonly byte[] _body;

        public UnsizedContent(byte[] body, string contentType)
        {
            _body = body;
            Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var i = 0; i < _body.Length; i += 16384)
            {
                await stream.WriteAsync(_body.AsMemory(i, Math.Min(16384, _body.Length - i)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
